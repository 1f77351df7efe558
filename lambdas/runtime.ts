import { readConfig } from './config';
import { buildServices, type Services } from './services';

/** Built once per Lambda container: config is read and clients are created at cold start. */
const config = readConfig();
export const services: Services = buildServices(config);
