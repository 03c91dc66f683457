package probe

import (
	"context"
	"fmt"

	"github.com/go-kivik/kivik/v4"
)

// DBLister lists the ids of a CouchDB database (the whisks database)
// through _all_docs, without the documents.
type DBLister struct{ DB *kivik.DB }

// IDs implements Lister.
func (l DBLister) IDs(ctx context.Context) ([]string, error) {
	rows := l.DB.AllDocs(ctx)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		id, err := rows.ID()
		if err != nil {
			return nil, fmt.Errorf("probe: read _all_docs: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("probe: read _all_docs: %w", err)
	}
	return ids, nil
}
