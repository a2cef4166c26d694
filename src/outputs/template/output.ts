import type { Logger } from 'pino';
import type { TemplateOutputConfig } from './config.js';
import { TemplateFileOutput } from '../file/file-output.js';

/** One entry of the `Templates` section: the shared file pipeline, nothing more. */
export function createTemplateOutput(opts: { config: TemplateOutputConfig; index: number; logger: Logger; clusterNames?: string[] }): TemplateFileOutput {
  const out = new TemplateFileOutput({
    name: opts.config.Name,
    label: `template output ${opts.config.Name}`,
    section: `Templates[${opts.index}]`,
    config: opts.config,
    logger: opts.logger,
    clusterNames: opts.clusterNames,
  });
  const init = out.init.bind(out);
  out.init = async () => {
    await init();
    opts.logger.info({ template: opts.config.TemplatePath, outputPath: opts.config.OutputPath, validate: opts.config.ValidateCommand !== '', reload: opts.config.ReloadCommand !== '' }, 'template output ready');
  };
  return out;
}
