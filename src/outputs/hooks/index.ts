export { createExecOutput, createWebhookOutput, type HookOutputOptions } from './output.js';
export { execSectionSchema, webhookSectionSchema, type ExecHook, type WebhookHook } from './config.js';
export { hookEvent, hookEnv, type HookEvent } from './payload.js';
export { sign } from './deliver-webhook.js';
