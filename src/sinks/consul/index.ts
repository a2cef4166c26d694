export { createConsulSink, type ConsulSinkOptions } from './sink.js';
export { consulSectionSchema, checkConsulSection, serviceFor, serviceId, type ConsulSection } from './config.js';
export { agentRegistration, catalogRegistration, EXTERNAL_NODE_META } from './payload.js';
