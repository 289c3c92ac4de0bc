// The pkgtrust binary. Everything lives in the libraries; main only hands over.
#include "app/cli.hpp"

int main(int argc, char** argv) { return pkgtrust::app::RunCli(argc, argv); }
