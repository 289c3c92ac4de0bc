// Raw loopback sockets for tests that speak to the service below HTTP (slow clients,
// pipelining, oversized headers): every read has a deadline, so a server that never answers
// fails the test at once instead of hanging the suite.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <string>

namespace pkgtrust::testing {

// A loopback port that was free a moment ago (for a child process to listen on).
inline int FreeLoopbackPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

// Reads what arrives next on `socket` (whose io_context nothing else runs), giving up after
// `deadline` with asio::error::timed_out in `ec`.
inline std::size_t ReadSomeWithin(boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer buffer,
                                  std::chrono::milliseconds deadline, boost::system::error_code& ec) {
  auto& ioc = static_cast<boost::asio::io_context&>(socket.get_executor().context());
  std::size_t read = 0;
  bool finished = false;
  socket.async_read_some(buffer, [&](const boost::system::error_code& e, std::size_t n) {
    ec = e;
    read = n;
    finished = true;
  });
  ioc.restart();
  ioc.run_for(deadline);
  if (!finished) {
    socket.cancel();
    ioc.restart();
    ioc.run();  // the handler runs now: cancelled, or with what arrived just in time
    if (ec == boost::asio::error::operation_aborted) ec = boost::asio::error::timed_out;
  }
  return read;
}

// Everything `socket` receives until the peer closes it (ec: eof or connection_reset), an
// error, or `deadline` in all (ec: timed_out).
inline std::string ReadUntilClosed(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds deadline,
                                   boost::system::error_code& ec) {
  std::string all;
  char buffer[4096];
  auto end = std::chrono::steady_clock::now() + deadline;
  ec = {};
  while (!ec) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ec = boost::asio::error::timed_out;
      break;
    }
    std::size_t n = ReadSomeWithin(socket, boost::asio::buffer(buffer), left, ec);
    all.append(buffer, n);
  }
  return all;
}

}  // namespace pkgtrust::testing
