export { createHaproxySink, type HaproxySink, type HaproxySinkOptions } from './sink.js';
export { haproxySectionSchema, DEFAULT_VALIDATE_COMMAND, type HaproxySection } from './config.js';
export { buildTemplateData, type TemplateData, type TemplateCluster } from './render.js';
