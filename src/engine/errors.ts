/**
 * @module The engine's one error type. The HTTP layer turns it into Neon's error envelope
 * `{code, message}` with the status it carries; anything else becomes a 500 without details.
 */
export class NeonApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = '',
  ) {
    super(message);
    this.name = 'NeonApiError';
  }
}

export const badRequest = (message: string) => new NeonApiError(400, message, 'BAD_REQUEST');
export const notFound = (message: string) => new NeonApiError(404, message, 'NOT_FOUND');
export const conflict = (message: string) => new NeonApiError(409, message, 'CONFLICT');
export const unprocessable = (message: string) => new NeonApiError(422, message, 'UNPROCESSABLE_ENTITY');
/** Neon's answer while a project has operations in progress; clients retry it. */
export const locked = () =>
  new NeonApiError(423, 'project already has running operations, scheduling of new ones is prohibited', 'LOCKED');
