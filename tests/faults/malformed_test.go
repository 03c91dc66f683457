package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// malformedDoc is a document written straight into whisks.
type malformedDoc struct {
	kind    string
	id      string
	doc     string // JSON; %s is the id's name
	counted bool   // fnmgr counts it as malformed (an action it cannot read)
}

// malformedKinds are the ways a whisks document can be broken; those that
// are not actions at all are skipped without being counted.
var malformedKinds = []malformedDoc{
	{kind: "entityType not a string", doc: `{"entityType":5,"name":"%s"}`, counted: true},
	{kind: "code a number", doc: `{"entityType":"action","namespace":"guest","name":"%s","exec":{"kind":"nodejs:20","code":42}}`, counted: true},
	{kind: "exec an array", doc: `{"entityType":"action","namespace":"guest","name":"%s","exec":[]}`, counted: true},
	{kind: "limits as strings", doc: `{"entityType":"action","namespace":"guest","name":"%s","exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":"60000","memory":"256"}}`, counted: true},
	{kind: "parameters an object", doc: `{"entityType":"action","namespace":"guest","name":"%s","exec":{"kind":"nodejs:20","code":"x"},"parameters":{"a":1}}`, counted: true},
	{kind: "mem: code not base64", doc: `{"entityType":"action","namespace":"guest","name":"%s","exec":{"kind":"nodejs:20","code":{"attachmentName":"mem:%%%%not base64%%%%","attachmentType":"text/plain; charset=UTF-8"}},"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"parameters":[],"annotations":[],"version":"0.0.1","publish":false}`, counted: true},
	{kind: "not an action", doc: `{"entityType":"trigger","namespace":"guest","name":"%s","parameters":[],"limits":{}}`},
	{kind: "no entityType", doc: `{"name":"%s","something":["else"]}`},
	{kind: "id without a namespace", id: "noslash-%s", doc: `{"entityType":"action","name":"%s"}`},
	{kind: "id too deep", id: "guest/a/b/%s", doc: `{"entityType":"action","name":"%s"}`},
	{kind: "design document", id: "_design/%s", doc: `{"views":{"x":{"map":"function(d){}"}},"name":"%s"}`},
}

// TestMalformedWhisksDocuments writes, in each run, a random mix of broken
// documents and valid actions straight into whisks (what a buggy tool or
// a hand edit leaves there) and checks that fnmgr's change-feed pipeline
// counts each broken action as malformed, skips what is not an action, and
// keeps going: every valid action written after them becomes a revision.
func TestMalformedWhisksDocuments(t *testing.T) {
	e := stackenv.Need(t, env)
	rng := rng(t)
	p := newPipeline(t, e)
	ctx := context.Background()
	for run := range count(50) {
		malformed0 := p.event(t, "malformed")
		wantMalformed := 0
		var valid []string
		for i := range 1 + rng.IntN(5) {
			if rng.IntN(3) == 0 {
				name := fmt.Sprintf("ok-%03d-%d", run, i)
				valid = append(valid, name)
				putAction(t, p, name, fmt.Sprintf("function main(){ return {run: %d, i: %d} }", run, i))
				continue
			}
			k := malformedKinds[rng.IntN(len(malformedKinds))]
			name := fmt.Sprintf("bad-%03d-%d", run, i)
			id := "guest/" + name
			if k.id != "" {
				id = fmt.Sprintf(k.id, name)
			}
			rev, err := p.whisksDB.Put(ctx, id, json.RawMessage(fmt.Sprintf(k.doc, name)))
			require.NoError(t, err, "%s: %s", k.kind, fmt.Sprintf(k.doc, name))
			if k.counted {
				wantMalformed++
			}
			if rng.IntN(4) == 0 { // and some are deleted again
				if k.counted {
					// Once the feed has read it: a document deleted before
					// that is never seen by the feed (it hands over only a
					// document's last revision), so not counted either.
					require.Eventually(t, func() bool { return p.event(t, "malformed")-malformed0 >= float64(wantMalformed) },
						20*time.Second, 10*time.Millisecond, "run %d: the feed reads %s before it is deleted", run, id)
				}
				_, err = p.whisksDB.Delete(ctx, id, rev)
				require.NoError(t, err, "delete %s", id)
			}
		}
		// A valid action last: the feed got past everything before it.
		last := fmt.Sprintf("ok-%03d-last", run)
		valid = append(valid, last)
		putAction(t, p, last, fmt.Sprintf("function main(){ return {run: %d} }", run))
		for _, name := range valid {
			require.Eventually(t, func() bool {
				f, err := p.reg.GetFunction(ctx, "guest", name)
				return err == nil && f.Revisions == 1
			}, 20*time.Second, 10*time.Millisecond, "run %d: the valid action %s becomes a revision (the feed keeps going)", run, name)
		}
		require.Equal(t, float64(wantMalformed), p.event(t, "malformed")-malformed0, "run %d: every broken action counted once", run)
		require.True(t, p.follower.CaughtUp(), "run %d", run)
		runs.Add(1)
	}
}

// putAction writes guest/name as OpenWhisk's controller does.
func putAction(t *testing.T, p *pipeline, name, code string) {
	t.Helper()
	a := entity.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: entity.Exec{Kind: "nodejs:20"},
		Limits: entity.DefaultLimits(), Annotations: entity.KeyValues{}.With("exec", "nodejs:20"), Updated: time.Now().UnixMilli()}
	_, err := p.whisks.PutAction(context.Background(), a, []byte(code), entity.TextContentType)
	require.NoError(t, err)
}
