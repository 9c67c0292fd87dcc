// The raw Worker benchmarks' child: does nothing and exits.
import nodeProcess from "node:process";
nodeProcess.exit(0);
