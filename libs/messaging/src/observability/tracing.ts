import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { AppendOptions, EventStore } from '@aevo/eventstore';

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

/**
 * Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `AEVO_OTLP_ENDPOINT` + /v1/traces.
 */
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
    throw new Error(
      `${name} "${value}": expected an http(s) URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`${name} "${value}": expected http:// or https:// (OTLP over HTTP), got ${u.protocol}`);
  return value;
}

/**
 * The active span's context as W3C headers, or undefined when there is none. The services install no global context
 * manager (see ServiceTracing), so this finds a span only where the embedding application installed one.
 */
export function activeTraceContext(ctx: Context = context.active()): TraceContextCarrier | undefined {
  return carrierOf(ctx);
}

/** A context's span as W3C headers (undefined without a valid span). */
export function carrierOf(ctx: Context): TraceContextCarrier | undefined {
  if (!trace.getSpan(ctx)?.spanContext()) return undefined;
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, recordSetter);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate
    ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate }
    : { traceparent: carrier.traceparent };
}

export interface ServiceTracingOptions {
  /** Spans go here instead of OTLP (tests: sdk-trace-base's InMemorySpanExporter); exported as each span ends. */
  exporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
}

/** Appended event ids remembered with the context they were appended under (for later appends they cause). */
const REMEMBERED_APPENDS = 10_000;

/**
 * One service's tracer. Built only when an exporter is configured (OTLP endpoint in the environment, or one given
 * in code): without one there is no tracer at all and the transport does no tracing work per message.
 *
 * A handler's span is a child of the context the event was appended under (the relay copies it from the append's
 * metadata onto the message's `traceparent`/`tracestate` headers). Which span an append belongs to is found from
 * the appended events' causation ids, not from an async context: an event caused by the message (or command) a
 * handler of this process is handling gets that handler's span; one caused by an event this process appended
 * earlier (dispatch's JobSucceeded after its JobQueued) gets the context that event was appended under. So one
 * round is one trace across services whose edges are the causation edges — and no AsyncLocalStorage is enabled,
 * whose promise hooks would tax every await of the service (bench/campaign/overhead.js --observability).
 */
export class ServiceTracing {
  private readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;
  /** Id of each message or command being handled → its handler span's context. */
  private readonly handling = new Map<string, Context>();
  /** Id of each event this process appended (most recent REMEMBERED_APPENDS) → the context recorded with it. */
  private readonly appended = new Map<string, TraceContextCarrier>();

  private constructor(
    readonly service: string,
    processor: SpanProcessor,
  ) {
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
   * Runs `fn` in a span that is a child of `parent`; while it runs, appends of events whose causation is `handledId`
   * (the message's event id, or the command id) belong to this span. Records an exception and an error status when
   * `fn` throws (rethrown unchanged).
   */
  async inSpan<T>(
    name: string,
    kind: SpanKind,
    parent: Context,
    attributes: Attributes,
    fn: (span: Span) => Promise<T>,
    handledId?: string,
  ): Promise<T> {
    const span = this.tracer.startSpan(name, { kind, attributes }, parent);
    const own = trace.setSpan(parent, span);
    if (handledId !== undefined) this.handling.set(handledId, own);
    try {
      return await context.with(own, () => fn(span));
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      if (handledId !== undefined && this.handling.get(handledId) === own) this.handling.delete(handledId);
      span.end();
    }
  }

  /**
   * The trace context an append of `events` belongs to: that of the handler handling one of their causes, else the
   * one an earlier append of a cause recorded, else the active span's (undefined when none applies).
   */
  contextForAppend(events: ReadonlyArray<{ causationId?: string | null }>): TraceContextCarrier | undefined {
    for (const e of events) {
      if (!e.causationId) continue;
      const handler = this.handling.get(e.causationId);
      if (handler) return carrierOf(handler);
      const earlier = this.appended.get(e.causationId);
      if (earlier) return earlier;
    }
    return activeTraceContext();
  }

  /** Remembers the context `events` were appended under, for appends they cause later. */
  rememberAppended(events: ReadonlyArray<{ id: string }>, carrier: TraceContextCarrier): void {
    for (const e of events) {
      this.appended.delete(e.id);
      this.appended.set(e.id, carrier);
    }
    while (this.appended.size > REMEMBERED_APPENDS) this.appended.delete(this.appended.keys().next().value as string);
  }

  /** Exports what is buffered and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** AppendOptions with the trace context (typed apart so that a store that does not know it simply ignores it). */
export type TracedAppendOptions = AppendOptions & { traceContext?: TraceContextCarrier };

/**
 * The store as handlers see it while tracing is on: every append records the trace context it belongs to
 * (`tracing.contextForAppend`) in the append's metadata (AppendOptions.traceContext), whatever path appends
 * (executeDecider, decideOnStream, a direct append); a context given by the caller wins. Everything else is the
 * store itself.
 */
export function tracedStore(store: EventStore, tracing: ServiceTracing): EventStore {
  const append: EventStore['append'] = (streamId, expected, events, opts) => {
    const given = (opts as TracedAppendOptions | undefined)?.traceContext;
    const traceContext = given ?? tracing.contextForAppend(events);
    if (!traceContext) return store.append(streamId, expected, events, opts);
    tracing.rememberAppended(events, traceContext);
    const withTrace: TracedAppendOptions = { ...(opts ?? {}), traceContext };
    return store.append(streamId, expected, events, withTrace);
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') return append;
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      // Bound once per method: the store's methods are called on every handler's path.
      let fn = bound.get(prop);
      if (fn === undefined) bound.set(prop, (fn = (value as (...a: unknown[]) => unknown).bind(target)));
      return fn;
    },
  });
}

export { SpanKind };
