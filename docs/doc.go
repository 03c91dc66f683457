// Package docs holds fnmgr's documentation (Markdown and the OpenAPI
// description). Its tests keep the documentation honest: openapi.json is
// the admin API's own description, configuration.md's table is the list
// of settings, and every failure operations.md names has a metric and a
// log line in the code.
package docs
