using Spectre.Console.Cli;

namespace Farm.Cli;

public static class FarmApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.SetApplicationName("farm");
            c.PropagateExceptions();
        });
        try
        {
            return await app.RunAsync(args);
        }
        catch (FarmException e)
        {
            Console.Error.WriteLine($"farm: {e.Verdict.ToWire()}: {e.Describe()}");
            return e.Verdict.ExitCode();
        }
        catch (CommandAppException e)
        {
            Console.Error.WriteLine($"farm: error: {e.Message}");
            return Verdict.Error.ExitCode();
        }
    }
}
