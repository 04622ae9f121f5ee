using Farm.Cli;

return await FarmApp.RunAsync(args);

// The entry point stays internal like every other type here (the .NET 10 web SDK would make it public).
internal partial class Program;
