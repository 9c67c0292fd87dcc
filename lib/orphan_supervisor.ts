/**
 * The supervisor that ends a thread's Popen children when that thread, or its whole OS process, ends in a way no
 * code of the program sees: SIGKILL, an out-of-memory kill, a crash of the runtime. It is a small `/bin/sh` in a
 * session of its own (so a signal to the program's group does not reach it) that ignores the ending signals. The
 * thread writes each child's id to its standard input when the child starts and when it ends; the OS closes that
 * input when the thread's or the process's files close, however they end, and the shell then kills every child
 * still listed. Started at a thread's first Popen child; where it cannot start (no `/bin/sh`, or a program that may
 * not run it without asking) the children have the exit hooks alone.
 *
 * @module
 */
import { runtime } from "./runtime/detect.ts";

/**
 * Lines are `+p<pid>` / `-p<pid>` for a child, `+g<pid>` / `-g<pid>` for a group it leads; each listed one is a
 * shell variable until it ends. At end of input, what is left is killed (a group by its negated id).
 */
const SCRIPT = `trap '' HUP INT TERM QUIT
while IFS= read -r line; do
  case $line in
    +[pg][0-9]*) eval "\${line#+}=1" ;;
    -[pg][0-9]*) unset "\${line#-}" ;;
  esac
done
for name in $(set | sed -n 's/^\\([pg][0-9][0-9]*\\)=.*/\\1/p'); do
  case $name in
    p*) kill -s KILL "\${name#p}" ;;
    g*) kill -s KILL -- "-\${name#g}" ;;
  esac
done 2>/dev/null
`;

type Supervisor = (line: string) => void;

/** This thread's supervisor; undefined until the first child (or after it ended), false where it cannot start. */
let supervisor: Supervisor | false | undefined;

function start(): Supervisor | false {
  if (runtime.mayRun?.("/bin/sh") === false) return false;
  try {
    const child = runtime.spawnChild({
      args: ["/bin/sh", "-c", SCRIPT],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      detached: true,
    });
    child.unref();
    const writer = child.stdin!.getWriter();
    const encoder = new TextEncoder();
    // A supervisor that ended (killed from outside) takes no more lines: the next child starts another one, and
    // the children listed with it keep only their exit hooks.
    const ended = () => {
      if (supervisor === write) supervisor = undefined;
    };
    child.exited.then(ended, ended);
    const write: Supervisor = (line) => void writer.write(encoder.encode(line)).catch(() => {});
    return write;
  } catch {
    // No /bin/sh, or no permission to run it (a Deno grant scoped to other programs): not tried again.
    return false;
  }
}

/**
 * Lists the child `pid` (with `group`, the process group it leads) with this thread's supervisor; returns the
 * function that takes it off the list, for when the child has ended or was ended.
 */
export function supervise(pid: number, group: boolean): () => void {
  supervisor ??= start();
  if (!supervisor) return () => {};
  const name = `${group ? "g" : "p"}${pid}`;
  supervisor(`+${name}\n`);
  return () => {
    if (supervisor) supervisor(`-${name}\n`);
  };
}
