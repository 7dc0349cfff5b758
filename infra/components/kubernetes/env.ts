/** A container's env entries from plain name -> value pairs. */
export const envList = (vars: Record<string, string>) => Object.entries(vars).map(([name, value]) => ({ name, value }));
