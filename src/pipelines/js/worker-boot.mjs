// Runs the worker from TypeScript source (tests, tsx): piscina imports this file, which imports
// worker.ts through tsx. A build (dist/) runs worker.js directly and never loads this file.
import { tsImport } from 'tsx/esm/api';

const worker = await tsImport(new URL('./worker.ts', import.meta.url).href, import.meta.url);
export default worker.default;
