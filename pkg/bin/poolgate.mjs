#!/usr/bin/env node
// The `poolgate` command (`npx poolgate doctor`). Its code lives in cli/, away from the runtime
// entries, so importing 'poolgate' in an app never loads it.

const HELP = `Usage: poolgate <command>

Commands:
  doctor [DATABASE_URL]   check the database's limits and the URL, and size the fleet
                          (poolgate doctor --help)`;

const [command, ...rest] = process.argv.slice(2);
if (command === 'doctor') {
  const { runDoctor } = await import('../cli/doctor.mjs');
  const { exitCode, output, stream } = await runDoctor(rest);
  (stream === 'stderr' ? process.stderr : process.stdout).write(output);
  process.exitCode = exitCode;
} else if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
  process.stdout.write(`${HELP}\n`);
  process.exitCode = command === undefined ? 2 : 0;
} else {
  process.stderr.write(`poolgate: unknown command ${JSON.stringify(command)}\n${HELP}\n`);
  process.exitCode = 2;
}
