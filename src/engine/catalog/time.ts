/** @module The catalog's timestamps: Neon's RFC 3339 form, to the second (`2030-01-01T00:00:00Z`). */
export const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
