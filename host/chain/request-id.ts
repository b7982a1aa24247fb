// Request ids: one prefix per process (pid and start time, so ids stay unique across restarts) and a
// serial. The serial is what the guest-call path records for the watchdog (an int, no string work).

export const REQUEST_ID_PREFIX = `${process.pid.toString(36)}-${Date.now().toString(36)}`;

/** The id a request with this serial carries in logs and the request_id property. */
export function requestIdOf(serial: number): string {
  return `${REQUEST_ID_PREFIX}-${serial.toString(36)}`;
}
