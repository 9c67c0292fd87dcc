/**
 * The supervisor that ends a thread's children (Popen children and spawned children) when that thread, or its whole
 * OS process, ends in a way no code of the program sees: SIGKILL, an out-of-memory kill, a crash of the runtime.
 * It is a small `/bin/sh` in a session of its own (so a signal to the program's group does not reach it) that
 * ignores the ending signals. The thread appends each child's id to a list file in a private directory as the
 * child starts and as it ends, before the call that started or reaped it returns: the list is right at every
 * instant, even when the thread then spins in JavaScript and never turns its event loop (a pipe write would wait
 * for that turn). The shell's standard input is a pipe nobody writes: the OS closes it when the thread's or the
 * process's files close, however they end, and the shell then kills every child still listed and removes the
 * directory. Started at a thread's first child; where it cannot start (no `/bin/sh`, or a program that may not run
 * it or write the temporary directory without asking) the children have the exit hooks alone.
 *
 * @module
 */
import { runtime } from "./runtime/detect.ts";

/**
 * `$1` is the list's directory. Its file's lines are `+p<pid>` / `-p<pid>` for a child, `+g<pid>` / `-g<pid>` for
 * a group it leads; each listed one is a shell variable until it ends. At end of input, what is left is killed (a
 * group by its negated id).
 */
const SCRIPT = `trap '' HUP INT TERM QUIT
while read -r _; do :; done
if [ -f "$1/children" ]; then
  while IFS= read -r line; do
    case $line in
      +[pg][0-9]*) eval "\${line#+}=1" ;;
      -[pg][0-9]*) unset "\${line#-}" ;;
    esac
  done < "$1/children"
fi
for name in $(set | sed -n 's/^\\([pg][0-9][0-9]*\\)=.*/\\1/p'); do
  case $name in
    p*) kill -s KILL "\${name#p}" ;;
    g*) kill -s KILL -- "-\${name#g}" ;;
  esac
done
rm -f "$1/children" "$1/children.next"
rmdir "$1"
`;

/**
 * How many bytes the list may grow to before it is written anew with only the children still running: each child
 * adds two lines (~16 bytes), so a long-running program that starts children without end would fill the disk.
 */
const COMPACT_BYTES = 64 * 1024;

/** A running supervisor: its list file, and its input, held open as long as the thread runs. */
interface Supervisor {
  list: string;
  input: WritableStream<Uint8Array> | null;
  /** The children listed and not yet ended, by their names in the list. */
  running: Set<string>;
  /** Bytes in the list file. */
  bytes: number;
}

/** This thread's supervisor; undefined until the first child (or after it ended), false where it cannot start. */
let supervisor: Supervisor | false | undefined;

function start(): Supervisor | false {
  let dir: string;
  try {
    if (runtime.mayRun?.("/bin/sh") === false) return false;
    dir = runtime.makeTempDirSync("tsmp-children-");
  } catch {
    // No permission to write the temporary directory (a Deno grant scoped elsewhere): not tried again.
    return false;
  }
  try {
    const child = runtime.spawnChild({
      args: ["/bin/sh", "-c", SCRIPT, "tsmp-supervisor", dir],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      detached: true,
    });
    child.unref();
    const started: Supervisor = { list: `${dir}/children`, input: child.stdin, running: new Set(), bytes: 0 };
    // A supervisor that ended (killed from outside) takes no more lines: the next child starts another one, and
    // the children listed with it keep only their exit hooks.
    const ended = () => {
      if (supervisor === started) supervisor = undefined;
    };
    child.exited.then(ended, ended);
    return started;
  } catch {
    // No /bin/sh, or the OS refused a process: not tried again. The empty directory is left to the system's
    // cleaning of its temporary files.
    return false;
  }
}

function write(line: string): void {
  if (!supervisor) return;
  try {
    // Only once that shrinks it to a quarter or less: a line takes at most 16 bytes.
    if (supervisor.bytes + line.length > Math.max(COMPACT_BYTES, supervisor.running.size * 64)) {
      // Written anew with the children still running (the shell reads it only at the end; the rename is atomic).
      const listed = [...supervisor.running].map((name) => `+${name}\n`).join("") + line;
      runtime.replaceTextFileSync(supervisor.list, listed);
      supervisor.bytes = listed.length;
      return;
    }
    runtime.appendTextFileSync(supervisor.list, line);
    supervisor.bytes += line.length;
  } catch {
    // The directory was removed from outside: the child has the exit hooks alone.
  }
}

/**
 * Lists the child `pid` (with `group`, the process group it leads) with this thread's supervisor, before it
 * returns; returns the function that takes it off the list, for when the child has ended, or undefined where
 * this thread has no supervisor.
 */
export function supervise(pid: number, group: boolean): (() => void) | undefined {
  if (!supervising()) return undefined;
  const name = `${group ? "g" : "p"}${pid}`;
  const listed = supervisor as Supervisor;
  write(`+${name}\n`);
  listed.running.add(name);
  return () => {
    listed.running.delete(name);
    write(`-${name}\n`);
  };
}

/** The path of this thread's list file, while it has a supervisor (for tests). */
export function supervisorList(): string | undefined {
  return supervisor ? supervisor.list : undefined;
}

/**
 * Whether this thread has a supervisor, which kills the children it lists once the thread's files close however
 * they close; starts it at the first call.
 */
export function supervising(): boolean {
  supervisor ??= start();
  return supervisor !== false;
}
