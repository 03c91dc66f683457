// Package config builds fnmgr's validated Options from command-line flags
// and FNMGR_* environment variables.
//
// Every setting has a flag (a Flag* constant) and an environment variable
// (the matching Env* constant). A flag given on the command line wins over
// the environment, which wins over the default. Parse validates everything
// and reports every problem at once, naming the flag and the variable.
//
// Secrets (the admin token, CouchDB credentials in its URL) never appear in
// errors or in the Options' log value.
package config
