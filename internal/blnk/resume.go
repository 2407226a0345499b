package blnk

// KeyResume is what a server that saved its view of the keys after change
// Seq (the change of key KeyID) needs to bring that view up to date
// without reading every key (issue 21).
type KeyResume struct {
	// Found: the change log still holds change Seq, of key KeyID, so that
	// the saved view was made from this database and the log reaches
	// back to it. Without it the saved view is of no use.
	Found bool
	// Changed are the keys changed after Seq, as they are now, up to the
	// change Last.
	Changed []Record
	Last    int64
	// Keys is how many keys there are as of Last: the saved view brought
	// up to date must hold as many.
	Keys int
}
