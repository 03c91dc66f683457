package replay

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

func TestExplore(t *testing.T) {
	if os.Getenv("REPLAY_EXPLORE") == "" {
		t.Skip()
	}
	cs, err := Load("testdata/curves")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []search.Objective{search.Cost, search.MinResources, search.Balanced} {
		tr, cmp, err := Evaluate(context.Background(), cs, Options{Objective: o, Trials: 40, Seed: 1}, 2, SourceGroup)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		WriteComparisons(&b, string(o), cmp)
		t.Log("\n" + b.String())
		if os.Getenv("REPLAY_EXPLORE") == "v" {
			for i, c := range cs {
				st := Stable(c.Sizes(), tr[i])
				w := 0
				for _, x := range tr[i] {
					if x.Within {
						w++
					}
				}
				t.Logf("%s %s within %d/%d best %d mode %d near %.2f flag %.2f", o, c.File, w, len(tr[i]), tr[i][0].BestMB, st.ModeMB, st.NearMode, st.NearOrFlag)
			}
		}
	}
}
