export { createHaproxyOutput, type HaproxyOutput, type HaproxyOutputOptions } from './output.js';
export { haproxySectionSchema, DEFAULT_VALIDATE_COMMAND, type HaproxySection } from './config.js';
export { buildTemplateData, type TemplateData, type TemplateCluster } from '../file/data.js';
