// Fleet sizing: how many connections each instance may open so that K instances stay under the
// database's limit with room to spare. The arithmetic is the Rust core's (sizing.rs); this
// checks types and names the result's fields. `poolgate doctor` prints it.

import { checkObject, optionalNumber, requiredNumber } from './options.js';
import { sizeFleet as coreSizeFleet } from './wasm.js';

const SIZING_OPTIONS = [
  'limit',
  'reserved',
  'others',
  'instances',
  'marginPercent',
  'minHeadroom',
  'queueTimeoutMs',
];

/**
 * Per-instance advice for a fleet sharing one database. `limit` is the server's
 * `max_connections` (or the pooler's pool size); see the README's `poolgate doctor` section.
 */
export function sizeFleet(options) {
  if (options === undefined) throw new TypeError('sizeFleet needs an options object with limit');
  const o = checkObject('sizeFleet options', options, SIZING_OPTIONS);
  const [usable, headroom, perInstance, fleetTotal, pgPoolMax, connectTimeoutMs, queueTimeoutMs] =
    coreSizeFleet(
      requiredNumber('limit', o.limit),
      optionalNumber('reserved', o.reserved),
      optionalNumber('others', o.others),
      optionalNumber('instances', o.instances),
      optionalNumber('marginPercent', o.marginPercent),
      optionalNumber('minHeadroom', o.minHeadroom),
      optionalNumber('queueTimeoutMs', o.queueTimeoutMs),
    );
  return {
    usable,
    headroom,
    perInstance,
    fleetTotal,
    pgPoolMax,
    connectTimeoutMs,
    queueTimeoutMs,
  };
}
