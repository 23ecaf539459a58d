// The audit domain's public surface.
export { type AuditEvent, type AuditIdentity, AuditLog, type AuditRecord, listSegments } from './log.js';
export { type VerifyResult, verifyAuditLog } from './verify.js';
