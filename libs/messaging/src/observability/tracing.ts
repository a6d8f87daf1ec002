import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { EventStore } from '@aevo/eventstore';

/** W3C trace context as it travels in NATS headers and in an append's metadata. */
export interface TraceContextCarrier {
  traceparent: string;
  tracestate?: string;
}

/** Header access of NATS messages (MsgHdrs has get/set/keys). */
interface HeaderLike {
  get(name: string): string;
  set?(name: string, value: string): void;
  keys?(): string[];
}

const getter: TextMapGetter<HeaderLike | undefined> = {
  keys: (h) => h?.keys?.() ?? [],
  get: (h, key) => {
    const v = h?.get(key);
    return v === '' || v === undefined || v === null ? undefined : v;
  },
};
const recordSetter: TextMapSetter<Record<string, string>> = { set: (carrier, key, value) => (carrier[key] = value) };

const propagator = new W3CTraceContextPropagator();

/** Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` or `AEVO_OTLP_ENDPOINT` + /v1/traces. */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string | null {
  if (/^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '') || env.OTEL_TRACES_EXPORTER === 'none') return null;
  const direct = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (direct) return checkedUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', direct);
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'AEVO_OTLP_ENDPOINT'] as const) {
    const base = env[name]?.trim();
    if (base) return `${checkedUrl(name, base).replace(/\/+$/, '')}/v1/traces`;
  }
  return null;
}

function checkedUrl(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name} "${value}": expected an http(s) URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${name} "${value}": expected http:// or https:// (OTLP over HTTP), got ${u.protocol}`);
  return value;
}

let contextManagerInstalled = false;
/** Active-span propagation across awaits (once per process; an application that installed its own keeps it). */
function ensureContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** The active span's context as W3C headers, or undefined when no span is active (tracing off: always). */
export function activeTraceContext(ctx: Context = context.active()): TraceContextCarrier | undefined {
  if (!trace.getSpan(ctx)?.spanContext()) return undefined;
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, recordSetter);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
}

export interface ServiceTracingOptions {
  /** Spans go here instead of OTLP (tests: sdk-trace-base's InMemorySpanExporter); exported as each span ends. */
  exporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
}

/**
 * One service's tracer. Built only when an exporter is configured (OTLP endpoint in the environment, or one given
 * in code): without one there is no tracer at all and the transport does no tracing work per message.
 *
 * A handler's span is a child of the context the event was appended under (the relay copies it from the append's
 * metadata onto the message's `traceparent`/`tracestate` headers), and events appended while it runs carry its
 * context (see `tracedStore`): one round is one trace across services, each hop's parent the span that caused it.
 */
export class ServiceTracing {
  private readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;

  private constructor(
    readonly service: string,
    processor: SpanProcessor,
  ) {
    ensureContextManager();
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'service.namespace': 'aevo' }),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('@aevo/messaging');
  }

  /** A tracer exporting to `exporter` or to the OTLP endpoint of the environment; null when neither is set. */
  static create(service: string, opts: ServiceTracingOptions = {}): ServiceTracing | null {
    if (opts.exporter) return new ServiceTracing(service, new SimpleSpanProcessor(opts.exporter));
    const url = otlpTracesUrl(opts.env ?? process.env);
    if (!url) return null;
    return new ServiceTracing(service, new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }

  /** The context carried by a message's headers (ROOT when it carries none). */
  static extract(headers: HeaderLike | undefined): Context {
    return headers ? propagator.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
  }

  /**
   * Runs `fn` in a span that is a child of `parent`, active for everything `fn` awaits; records an exception and
   * an error status when it throws (rethrown unchanged).
   */
  async inSpan<T>(name: string, kind: SpanKind, parent: Context, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
    const span = this.tracer.startSpan(name, { kind, attributes }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), () => fn(span));
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  }

  /** Exports what is buffered and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/**
 * The store as handlers see it while tracing is on: every append made inside a span records that span's context
 * in the append's metadata (AppendOptions.traceContext), whatever path appends (executeDecider, decideOnStream, a
 * direct append). Everything else is the store itself.
 */
export function tracedStore(store: EventStore): EventStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        const append: EventStore['append'] = (streamId, expected, events, opts) => {
          const traceContext = activeTraceContext();
          if (!traceContext) return target.append(streamId, expected, events, opts);
          // Typed wider than AppendOptions on purpose: a store that does not know traceContext ignores it.
          const withTrace: NonNullable<typeof opts> & { traceContext: TraceContextCarrier } = { ...(opts ?? {}), traceContext };
          return target.append(streamId, expected, events, withTrace);
        };
        return append;
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export { SpanKind };
