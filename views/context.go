package views

import "context"

// carried is the context key of the one value of type T a request's
// context carries for the pages (the viewer, the theme, the key
// policies): set by the web layer once, read by any component without
// each handler passing it along. Each T is a key of its own.
type carried[T any] struct{}

// withCarried returns ctx carrying v, in place of any T it carried.
func withCarried[T any](ctx context.Context, v T) context.Context {
	return context.WithValue(ctx, carried[T]{}, v)
}

// carriedOf returns the T ctx carries, or T's zero value.
func carriedOf[T any](ctx context.Context) T {
	v, _ := ctx.Value(carried[T]{}).(T)
	return v
}
