/**
 * @module How compute units map to a postmaster's resources.
 *
 * Neon: 1 CU ≈ 1 vCPU and 4 GB RAM, and max_connections grows with the size (104 at 0.25 CU,
 * ~420 per CU). Here a postmaster gets `shared_buffers` of 64 MB per CU of the maximum
 * (16 MB at 0.25 CU, capped at 1 GB) and Neon's max_connections for the maximum. CPU is not
 * limited: all endpoints share the machine.
 */
export interface ComputeSize {
  sharedBuffersMb: number;
  maxConnections: number;
}

export function computeSize(_minCu: number, maxCu: number): ComputeSize {
  return {
    sharedBuffersMb: Math.min(1024, Math.max(16, Math.round(64 * maxCu))),
    maxConnections: Math.min(4000, Math.max(104, Math.floor(419 * maxCu))),
  };
}
