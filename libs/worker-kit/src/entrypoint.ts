/**
 * Substitutes `{placeholder}` tokens of a substrate entrypoint's argv. Unknown placeholders are an error naming
 * the token, so a substrate asking for something the worker does not provide fails before any job is launched.
 */
export function renderArgv(command: readonly string[], values: Record<string, string>): string[] {
  return command.map((arg) =>
    arg.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
      const v = values[name];
      if (v === undefined) throw new Error(`entrypoint argument "${arg}" uses {${name}}, which the worker does not provide here`);
      return v;
    }),
  );
}
