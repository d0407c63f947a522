// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** edgemesh entry point: parses the command line and hands over to `lib/cli`. @module */
