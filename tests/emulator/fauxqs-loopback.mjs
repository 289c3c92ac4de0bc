// Starts the fauxqs SNS/SQS emulator for tests and benchmarks: on 127.0.0.1 only (its
// own CLI listens on every interface), without request logs (FAUXQS_LOGGER=true turns
// them on), on FAUXQS_PORT (0 or unset: a free port). Prints "listening <url>" when ready
// and stops on SIGTERM or when its standard input closes (the test that started it died).
import { buildApp } from "fauxqs";

const app = buildApp({
  logger: process.env.FAUXQS_LOGGER === "true",
  host: process.env.FAUXQS_HOST,
  defaultRegion: process.env.FAUXQS_DEFAULT_REGION,
});
const address = await app.listen({ port: Number.parseInt(process.env.FAUXQS_PORT ?? "0", 10), host: "127.0.0.1" });
console.log(`listening ${address}`);

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
