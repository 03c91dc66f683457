package admin

import (
	"context"
	"net/url"
)

type targetKey struct{}

type target struct {
	url *url.URL
	id  string
}

func withTarget(ctx context.Context, u *url.URL, id string) context.Context {
	return context.WithValue(ctx, targetKey{}, target{url: u, id: id})
}

func targetFrom(ctx context.Context) target {
	t, _ := ctx.Value(targetKey{}).(target)
	if t.url == nil {
		t.url = &url.URL{}
	}
	return t
}
