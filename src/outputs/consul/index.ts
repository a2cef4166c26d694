export { createConsulOutput, type ConsulOutputOptions } from './output.js';
export { consulSectionSchema, checkConsulSection, serviceFor, serviceId, SERVICE_ID_PREFIX, type ConsulSection, type ConsulService } from './config.js';
export { agentRegistration, catalogRegistration, checkId, EXTERNAL_NODE_META } from './payload.js';
