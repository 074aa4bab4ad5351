// What bounds the targets poolgate misses, measured without poolgate: the floor each scenario
// puts under any limiter on this machine. Prints one line per figure; the README quotes them.
//
//   node bench/floors.mjs
//
// - S2: the cost of the promise reaction a limiter needs to learn that an operation settled
//   (`p.then(release)`), over a bare `await op()`.
// - S3: 100,000 ops of a 1 ms timer at 100 at a time, with no limiter (100 lanes of 1,000
//   sequential timers, perfectly packed) and through a minimal array-queue semaphore.
// - S4: S4's synchronous submit loop of 100,000 calls against a limiter that rejects every
//   call at once: how long the loop takes, and when the last rejection reaches its caller.

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function s2() {
  const n = 1_000_000;
  const op = async () => {};
  const release = () => {};
  const watched = (f) => {
    const p = f();
    p.then(release, release);
    return p;
  };
  const bare = [];
  const then = [];
  for (let round = 0; round < 9; round++) {
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await op();
    bare.push(performance.now() - t0);
    t0 = performance.now();
    for (let i = 0; i < n; i++) await watched(op);
    then.push(performance.now() - t0);
  }
  const ns = ((median(then) - median(bare)) * 1e6) / n;
  console.log(`S2 floor: p.then(release) costs ${ns.toFixed(1)} ns per op over a bare await`);
}

const timerOp = () => new Promise((resolve) => setTimeout(resolve, 1));

async function s3() {
  const packed = [];
  const sema = [];
  for (let rep = 0; rep < 3; rep++) {
    let t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        for (let i = 0; i < 1000; i++) await timerOp();
      }),
    );
    packed.push((performance.now() - t0) / 1000);
    const run = minimalSemaphore(100);
    t0 = performance.now();
    await Promise.all(Array.from({ length: 100_000 }, () => run(timerOp)));
    sema.push((performance.now() - t0) / 1000);
  }
  const fmt = (xs) => xs.map((x) => `${x.toFixed(2)}x`).join(', ');
  console.log(`S3 floor: 1 ms timers packed in 100 lanes, no limiter: ${fmt(packed)} ideal`);
  console.log(`S3 floor: a minimal array-queue semaphore at 100: ${fmt(sema)} ideal`);
}

/** A FIFO semaphore with nothing else: an array queue with a head index. */
function minimalSemaphore(limit) {
  let active = 0;
  let head = 0;
  const queue = [];
  const next = () => {
    if (head === queue.length || active === limit) return;
    active++;
    const [op, resolve, reject] = queue[head];
    queue[head++] = undefined;
    op().then(
      (v) => {
        active--;
        next();
        resolve(v);
      },
      (e) => {
        active--;
        next();
        reject(e);
      },
    );
  };
  return (op) =>
    new Promise((resolve, reject) => {
      queue.push([op, resolve, reject]);
      next();
    });
}

async function s4() {
  const ops = 100_000;
  const refusal = new Error('rejected at once');
  const run = () => Promise.reject(refusal);
  for (let rep = 0; rep < 3; rep++) {
    const submitAt = new Float64Array(ops); // written per call, as the S4 harness does
    let last = 0;
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      submitAt[i] = performance.now();
      const op = () => () => i; // the harness makes one closure per call too
      run(op()).then(
        () => {},
        () => {
          last = performance.now();
        },
      );
    }
    const loop = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 0));
    console.log(
      `S4 floor: submit loop of ${ops} instantly rejected calls ${loop.toFixed(1)} ms; ` +
        `last rejection seen ${(last - t0).toFixed(1)} ms after the loop started`,
    );
  }
}

await s2();
await s3();
await s4();
