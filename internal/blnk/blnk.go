// Package blnk is the product's vocabulary: the types, statuses, filters
// and errors that every other package speaks, as benbjohnson/wtf keeps
// them in its root package: people and workspaces, the keys list's
// queries, cursors and counts, the lifecycle's inputs and results, audit
// filters, usage, heartbeats and leases. It imports no adapter (no
// database, no web, no views) and no engine or service, only the other
// vocabulary packages (apikey: the key itself; audit; webhook; derrors;
// naming), so anyone can read it first to learn what the product is about.
package blnk
