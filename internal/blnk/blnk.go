// Package blnk is the product's vocabulary: the types, statuses, filters
// and errors that every other package speaks, as benbjohnson/wtf keeps
// them in its root package. It imports no adapter (no database, no web, no
// views) and nothing outside the standard library, so anyone can read it
// first to learn what the product is about.
package blnk
