/**
 * Tutorial 1's subprocess programs with POSIX commands in place of `dir` and `ipconfig /all`:
 * `run` with a string and `shell`, `run` with a list, `Popen` + `communicate`, and `call`
 * (the parent waits) next to `Popen` (the parent goes on at once). Checks each result.
 */
import assert from "node:assert/strict";
import { call, PIPE, Popen, run } from "../mod.ts";

// proc = run('dir', shell=True)
const proc = await run("ls", { shell: true });
console.log(proc.args, proc.returncode);
assert.equal(proc.args, "ls");
assert.equal(proc.returncode, 0);

// p = run(["ipconfig", "/all"], shell=True): with a list and shell, the first item is the shell line
const p = await run(["uname -a"], { shell: true, captureOutput: true, text: true });
console.log(p.args, p.returncode, (p.stdout as string).trim());
assert.deepEqual(p.args, ["uname -a"]);
assert.equal(p.returncode, 0);
assert.match(p.stdout as string, /\S/);

// run with a list and no shell: the program and its arguments as they are
const listed = await run(["echo", "a  b", "$HOME"], { captureOutput: true, text: true });
assert.equal(listed.stdout, "a  b $HOME\n");

// proc = Popen(args); out, err = proc.communicate(bstr); returncode = proc.wait(timeout)
const popen = new Popen(["tr", "a-z", "A-Z"], { stdin: PIPE, stdout: PIPE, stderr: PIPE, text: true });
console.log(`Popen started pid ${popen.pid}; the parent goes on at once`);
const [out, err] = await popen.communicate("hello subprocess\n");
const returncode = await popen.wait({ timeout: 1000 });
console.log(JSON.stringify(out), JSON.stringify(err), returncode);
assert.deepEqual([out, err, returncode], ["HELLO SUBPROCESS\n", "", 0]);

// subprocess.call: the parent waits until the child ends
const status = await call(["sh", "-c", "echo 'call waits for me'; exit 4"]);
console.log(`call returned ${status}`);
assert.equal(status, 4);
