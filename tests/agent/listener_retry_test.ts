// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { LISTENER_RETRY_MS, startListenerRetry } from "../../lib/agent/listener_retry.ts";
import { FakeIntervals } from "../_helpers/timers.ts";

Deno.test("startListenerRetry() asks for a pass each period while a listener failed to bind, until closed", () => {
  const timers = new FakeIntervals();
  let failed = false;
  let passes = 0;
  const retry = startListenerRetry({ bindFailed: () => failed, retry: () => passes++, timers });
  assert.equal(timers.ms, LISTENER_RETRY_MS);
  timers.tick();
  assert.equal(passes, 0, "every listener open: no pass");
  failed = true;
  timers.tick();
  timers.tick();
  assert.equal(passes, 2, "one pass per period while one is not");
  failed = false;
  timers.tick();
  assert.equal(passes, 2);
  retry.close();
  assert.equal(timers.cleared, true);
});
