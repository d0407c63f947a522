// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** The edgemesh version printed by `edgemesh version` and reported in `ctl status`. */
export const VERSION = "0.1.0";
