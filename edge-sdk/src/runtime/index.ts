export { OrtBackend, type OrtBackendOptions } from './ortBackend.js';
