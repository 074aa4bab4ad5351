// Cold-start reference: a bare Node process completing one async operation with no limiter.
// The driver times this script against coldstart-poolgate.mjs and reports the difference.

const op = async () => 1;
if ((await op()) !== 1) process.exit(1);
