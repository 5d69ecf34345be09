"""Every use of Faust internals, each working around an upstream bug (see README.md here)."""
