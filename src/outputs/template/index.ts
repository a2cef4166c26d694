export { TemplateFileOutput, type FileOutputConfig, type FileOutputOptions } from './file-output.js';
export { templateOutputSchema, templatesSectionSchema, checkTemplatesSection, type TemplateOutputConfig } from './config.js';
export { buildTemplateData, type TemplateData, type TemplateCluster, type TemplateReplica } from './data.js';
export { createTemplateOutput } from './output.js';
