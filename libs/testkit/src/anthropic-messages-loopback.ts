import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  system?: Array<{ type: string; text: string; cache_control?: unknown }>;
  tools?: Array<{ name: string; input_schema: unknown }>;
  tool_choice?: { type: string; name?: string };
  messages: Array<{ role: string; content: unknown }>;
}

export type MessagesReply = { status: number; body: unknown } | { toolUse: { name: string; input: unknown }; usage?: Partial<Usage> };
interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/**
 * A loopback HTTP server speaking the Anthropic Messages API (POST /v1/messages), for the real SDK pointed at it
 * with `baseURL`. It counts calls, so a test can prove a replay made none.
 */
export class LoopbackMessagesApi {
  calls = 0;
  readonly requests: MessagesRequest[] = [];
  private server: http.Server | null = null;
  constructor(private readonly respond: (req: MessagesRequest, n: number) => MessagesReply) {}

  get url(): string {
    const a = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/messages') {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no route ${req.method} ${req.url}` } }));
          return;
        }
        if (!(req.headers['x-api-key'] || req.headers.authorization) || !req.headers['anthropic-version']) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'missing credentials (x-api-key or authorization) or anthropic-version' } }));
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as MessagesRequest;
        this.calls++;
        this.requests.push(body);
        const reply = this.respond(body, this.calls);
        if ('status' in reply) {
          res.writeHead(reply.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(reply.body));
          return;
        }
        const usage: Usage = { input_tokens: 1500, output_tokens: 220, cache_read_input_tokens: 1200, cache_creation_input_tokens: 0, ...reply.usage };
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${this.calls}` });
        res.end(
          JSON.stringify({
            id: `msg_${this.calls}`,
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [{ type: 'tool_use', id: `toolu_${this.calls}`, name: reply.toolUse.name, input: reply.toolUse.input }],
            stop_reason: 'tool_use',
            stop_sequence: null,
            usage,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
