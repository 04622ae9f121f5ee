using Farm.Cli;

return await FarmApp.RunAsync(args);
