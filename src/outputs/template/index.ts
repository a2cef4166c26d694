export { templateOutputSchema, templatesSectionSchema, checkTemplatesSection, type TemplateOutputConfig } from './config.js';
export { createTemplateOutput } from './output.js';
