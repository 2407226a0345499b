package keyauth

import "context"

// FlushDue is the periodic flush that Run calls every FlushEvery.
func (a *Authenticator) FlushDue(ctx context.Context) error { return a.flushDue(ctx) }

// HotFlushes is hotFlushes, for the tests outside the package.
const HotFlushes = hotFlushes
