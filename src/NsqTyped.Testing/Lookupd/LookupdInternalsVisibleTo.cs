using System.Runtime.CompilerServices;

// The lookupd tests drive the registrar and the registration DB directly.
[assembly: InternalsVisibleTo("NsqTyped.Testing.Tests")]
