// What every README example answers after its burst of 50 operations through a pool of 5: an
// idle pool of 5, all 50 completed, and 5 running at once at the peak (so the gate really
// queued: without it the peak would be 50, with a broken release it would stay above 0 active).
export const EXPECTED = Object.freeze({
  activeConnections: 0,
  maxConnections: 5,
  queuedConnections: 0,
  availableConnections: 5,
  completed: 50,
  peakActive: 5,
});
