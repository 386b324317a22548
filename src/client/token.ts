/**
 * The `exp` of a JWT in ms, or undefined for anything else (an API key, a JWT without
 * `exp`). Read without verifying: the client only uses it to ask for a new token in
 * time, never to trust the token.
 */
export function tokenExpiry(token: string | undefined): number | undefined {
  const parts = token?.split('.');
  if (parts?.length !== 3) return undefined;
  try {
    const json = atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
