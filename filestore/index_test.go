package filestore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookup by the alias index finds what a scan finds: exact first, then case-folded, the
// first in file order; a stale index (entries changed without reindex) still answers
// right, by checking each hit and falling back to the scan.
func TestLookupIndex(t *testing.T) {
	st := &state{}
	for i := range 2000 {
		st.entries = append(st.entries, &fileEntry{d: decoded{Alias: fmt.Sprintf("key-%04d", i)}})
	}
	st.entries = append(st.entries, &fileEntry{d: decoded{Alias: "Mixed"}}, &fileEntry{d: decoded{Alias: "mixed"}}, &fileEntry{d: decoded{Alias: "key-0001"}})
	scan := &state{entries: st.entries}
	st.reindex()
	for _, a := range []string{"key-0000", "key-0001", "key-1999", "Mixed", "mixed", "MIXED", "KEY-0042", "absent"} {
		i, fe := st.lookup(a)
		j, fe2 := scan.lookup(a)
		assert.Equal(t, j, i, a)
		assert.Same(t, fe2, fe, a)
	}
	i, _ := st.lookup("key-0001")
	assert.Equal(t, 1, i, "the first of two equal aliases")
	i, _ = st.lookup("MIXED")
	assert.Equal(t, 2000, i, "a folded match is the first in file order")

	// Stale: delete entries without re-indexing.
	st.entries = slices.Delete(st.entries, 0, 10)
	i, fe := st.lookup("key-0010")
	require.NotNil(t, fe)
	assert.Equal(t, 0, i)
	assert.Equal(t, "key-0010", fe.d.Alias)
	_, fe = st.lookup("key-0005")
	assert.Nil(t, fe)
	st.entries = append(st.entries, &fileEntry{d: decoded{Alias: "new"}})
	_, fe = st.lookup("NEW")
	require.NotNil(t, fe)
	assert.Equal(t, "new", fe.d.Alias)
}
