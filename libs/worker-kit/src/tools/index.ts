// The worker's tools: their definitions (one zod schema per tool, shared by both agents) and their handlers.
export * from './definitions';
export * from './handlers';
export type { ToolHost } from './host';
export { JobTools } from './jobs';
